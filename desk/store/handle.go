package store

import "database/sql"

// DB is the database itself, for the packages that keep their own tables
// in it (desk/shift, desk/rounds): their tables come with the migrations
// here, their queries stay beside their code; one pool, and on SQLite its one
// writer, shared. Rebind turns their ? placeholders into the dialect's own.
func (s *Store) DB() *sql.DB { return s.db }

// SQL is the store's database, for the packages that keep their own tables
// beside the desk's (desk/equipment, desk/maintenance: their tables are in
// the migrations here, their queries in their packages). On SQLite it has
// one connection: never hold a transaction of it while calling the Store.
func (s *Store) SQL() *sql.DB { return s.db }
