"""rpu.models"""
