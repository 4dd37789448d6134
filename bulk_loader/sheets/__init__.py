"""Reading a sheet: CSV or XLSX, a chunk of rows at a time, each cell as the text a person sees."""
