"""tierid's protocol library and recursive side: identifier syntax, value model, codes, faces."""
