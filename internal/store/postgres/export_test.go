package postgres

import "hotline/internal/store/sqlstore"

// Dialect is the engine's, with its embedded migrations, for the upgrade
// suite.
var Dialect = sqlstore.Dialect{Name: "postgres", Migrations: migrations, Dollar: true}
