package store

import "database/sql"

// SQL is the store's database, for the packages that keep their own tables
// beside the desk's (desk/equipment, desk/maintenance: their tables are in
// the migrations here, their queries in their packages). On SQLite it has
// one connection: never hold a transaction of it while calling the Store.
func (s *Store) SQL() *sql.DB { return s.db }
