package store

import "database/sql"

// DB is the database itself, for the packages that keep their own tables
// in it (desk/shift): their tables come with the migrations here, their
// queries stay beside their code.
func (s *Store) DB() *sql.DB { return s.db }
