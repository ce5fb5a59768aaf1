"""The synthetic company generator (`digest sample`, the demo): org, CRM and weeks of collaboration metadata.

May import the kernel and sources (the contract it writes to); nothing above them.
"""

from digest.sample.generator import CSV_FILES, PARQUET_FILES, SampleSummary, generate_sample

__all__ = ["CSV_FILES", "PARQUET_FILES", "SampleSummary", "generate_sample"]
