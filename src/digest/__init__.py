"""seller-digest: a weekly "Seller insights" email for every seller, from Office 365 metadata and CRM data."""

__version__ = "0.1.0"
