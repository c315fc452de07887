package sqlite

import "hotline/internal/store/sqlstore"

// Dialect is the engine's, with its embedded migrations, for the upgrade
// suite.
var Dialect = sqlstore.Dialect{Name: "sqlite", Migrations: migrations}
