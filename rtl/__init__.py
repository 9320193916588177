"""rpu.rtl"""
