#include <sqlite3.h>

// SQLITE_TRANSIENT is a cast macro Swift cannot import: SQLite copies the
// bound bytes before the call returns.
static inline sqlite3_destructor_type vigil_sqlite_transient(void) {
    return SQLITE_TRANSIENT;
}
