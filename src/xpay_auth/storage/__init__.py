"""Everything that touches SQL: tables, engine, repositories, migrations."""
