"""Pages: what reviewers read — page sections, tables, figures, the site's stylesheet and templates."""
