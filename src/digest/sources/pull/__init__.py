"""The Graph pull: collaboration metadata (never content) for named mailboxes into a data folder (source, pager, rows, sink).

May import the kernel, digest.graph and the rest of sources; which mailboxes to pull is the pipeline's (digest.pipeline.pull).
"""
