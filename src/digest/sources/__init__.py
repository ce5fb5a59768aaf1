"""Where data comes from and what it must look like: the contract, the data folder (files), the snapshot store and uploads, column mappings, exclusions, the Graph pull (pull/).

May import the kernel and digest.graph; never metrics, email, audit, delivery, pipeline, cli or airflow.
"""
