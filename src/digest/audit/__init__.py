"""The privacy audit: per-recipient records and their chain and the gate (records), the independent scope re-derivation (scope), the reviewer's report (report), retention (retention).

May import the kernel, sources and email; never metrics (the scope stays an independent check), delivery, pipeline, cli or airflow.
"""

from digest.audit.records import (GATE_FILE, GENESIS, RULES, GateResult, audit_salt, batch_subjects, current_optouts,
                                  effective_records, gate, hash_value, read_records, record_emails, record_hash,
                                  send_block_reason, verify_chain)

__all__ = ["GATE_FILE", "GENESIS", "RULES", "GateResult", "audit_salt", "batch_subjects", "current_optouts", "effective_records",
           "gate", "hash_value", "read_records", "record_emails", "record_hash", "send_block_reason", "verify_chain"]
