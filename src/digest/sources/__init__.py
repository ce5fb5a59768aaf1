"""Where data comes from: files.py (a data folder), graph.py (Microsoft Graph pull), sample.py (a generated company)."""
