"""Mail in: parsing, alert sources and their rules, the pipeline that stores a mail, the preview."""
