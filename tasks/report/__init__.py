"""Reports: report.json, its schema, and the self-contained report.html."""
