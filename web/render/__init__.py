"""Files made for people: spreadsheets, PDFs (reports, badges, posters) and QR images."""
