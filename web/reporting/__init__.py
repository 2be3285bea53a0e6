"""The report tables and the post-conference report, pure: records in, tables out."""
