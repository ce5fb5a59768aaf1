"""The email: render (Jinja2 + premailer + CID images + text part), charts and their canvas, suggestions, formatting, the relationship card's cells (relationship), the RenderedEmail hand-off (message).

May import the kernel and sources; never metrics, audit, delivery, pipeline, cli or airflow (it renders cards it is given).
"""
