"""listeners"""
