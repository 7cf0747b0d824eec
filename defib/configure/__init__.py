"""crmsh's configure language for defib: lexer, parser, renderer, validator, imports.

The language is read into Pacemaker CIB XML (``xml.etree.ElementTree`` elements, pacemaker-3.x
schema names) and rendered back in crmsh's ``show`` format.
"""
