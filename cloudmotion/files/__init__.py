"""Files: atomic writes, output safety, stdout, name templates, GDAL error capture and ISO times."""
