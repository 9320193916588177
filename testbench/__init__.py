"""rpu.testbench"""
