package store

import "database/sql"

// DB is the database itself, for the packages that keep their own tables
// in it (desk/shift, desk/rounds, desk/equipment, desk/maintenance): their
// tables come with the migrations here, their queries stay beside their
// code; one pool, and on SQLite its one writer, shared: never hold a
// transaction of it while calling the Store. Rebind turns their ?
// placeholders into the dialect's own.
func (s *Store) DB() *sql.DB { return s.db }
