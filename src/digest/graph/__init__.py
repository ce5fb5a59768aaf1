"""Microsoft Graph access shared by the pull and the mailer: MSAL auth (auth), the HTTP client (client), retry waits (retry).

May import the kernel only (config, errors); never sources, metrics, email, audit, delivery, pipeline, cli or airflow.
"""
