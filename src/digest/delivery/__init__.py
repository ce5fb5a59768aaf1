"""Delivery: the ledger, the plan, per-mailbox pacing (throttle), the mailers (outbox, Graph) and send.

May import the kernel, sources, email, audit and digest.graph; never metrics, pipeline, cli or airflow.
"""
