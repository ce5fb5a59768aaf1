"""Delivery of rendered emails: outbox files (outbox.py), Microsoft Graph (graph.py), the send ledger."""
