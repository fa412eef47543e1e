import CSQLite
import Synchronization

/// One SQLite database file, used through a single connection in WAL mode.
///
/// Vigil's queries are few and small (a row per capture, event or session),
/// so one connection behind a lock serves every caller; each `write` is one
/// transaction, durable when it returns (`synchronous = FULL`).
///
/// Why not GRDB: its Foundation dependencies (locale-aware formatters,
/// `NSRegularExpression`, `NSDecimalNumber`) link ICU and its data into the
/// static binary; Vigil needs none of them.
final class SQLiteDatabase: Sendable {
    private let connection: Mutex<SQLiteConnection>

    init(path: String) throws {
        let connection = try SQLiteConnection(path: path)
        try connection.execute("PRAGMA journal_mode = WAL")
        try connection.execute("PRAGMA synchronous = FULL")
        self.connection = Mutex(connection)
    }

    /// Runs `body` in a transaction; commits if it returns, rolls back if it
    /// throws.
    func write<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try connection.withLock { connection in
            try connection.execute("BEGIN IMMEDIATE")
            do {
                let result = try body(connection)
                try connection.execute("COMMIT")
                return result
            } catch {
                try? connection.execute("ROLLBACK")
                throw error
            }
        }
    }

    func read<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try connection.withLock { try body($0) }
    }
}

/// An error from SQLite: its primary result code and message.
public struct SQLiteError: Error, Sendable, CustomStringConvertible {
    /// The primary result code (`SQLITE_FULL` is 13).
    public let code: Int32
    public let message: String
    public let sql: String?

    public var description: String {
        "SQLite error \(code): \(message)" + (sql.map { " - while executing `\($0)`" } ?? "")
    }

    public var isDiskFull: Bool { code == SQLITE_FULL }
}

/// A value of a column or a parameter.
enum SQLiteValue: Sendable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
}

/// A connection; used by one thread at a time (the database's lock).
final class SQLiteConnection: @unchecked Sendable {
    private var handle: OpaquePointer?

    init(path: String) throws {
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let status = sqlite3_open_v2(path, &handle, flags, nil)
        guard status == SQLITE_OK else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(handle)
            throw SQLiteError(code: status & 0xFF, message: "\(message) (\(path))", sql: nil)
        }
        sqlite3_busy_timeout(handle, 5000)
        sqlite3_extended_result_codes(handle, 0)
    }

    deinit {
        sqlite3_close_v2(handle)
    }

    /// Rows changed by the last statement.
    var changes: Int { Int(sqlite3_changes(handle)) }

    func execute(_ sql: String, _ arguments: [any SQLiteBindable] = []) throws {
        try withStatement(sql, arguments) { statement in
            while try step(statement, sql) {}
        }
    }

    func rows(_ sql: String, _ arguments: [any SQLiteBindable] = []) throws -> [SQLiteRow] {
        try withStatement(sql, arguments) { statement in
            var rows: [SQLiteRow] = []
            let count = sqlite3_column_count(statement)
            let names = (0..<count).map { String(cString: sqlite3_column_name(statement, $0)) }
            while try step(statement, sql) {
                var values: [String: SQLiteValue] = [:]
                for column in 0..<count {
                    values[names[Int(column)]] = Self.value(statement, column)
                }
                rows.append(SQLiteRow(values: values))
            }
            return rows
        }
    }

    func row(_ sql: String, _ arguments: [any SQLiteBindable] = []) throws -> SQLiteRow? {
        try rows(sql, arguments).first
    }

    private func withStatement<T>(
        _ sql: String, _ arguments: [any SQLiteBindable], _ body: (OpaquePointer) throws -> T
    ) throws -> T {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw error(sql)
        }
        defer { sqlite3_finalize(statement) }
        for (offset, argument) in arguments.enumerated() {
            let index = Int32(offset + 1)
            let status: Int32
            switch argument.sqliteValue {
            case .null: status = sqlite3_bind_null(statement, index)
            case .integer(let value): status = sqlite3_bind_int64(statement, index, value)
            case .real(let value): status = sqlite3_bind_double(statement, index, value)
            case .text(let value): status = sqlite3_bind_text(statement, index, value, -1, vigil_sqlite_transient())
            }
            guard status == SQLITE_OK else { throw error(sql) }
        }
        return try body(statement)
    }

    /// Advances `statement`: true while it has a row.
    private func step(_ statement: OpaquePointer, _ sql: String) throws -> Bool {
        switch sqlite3_step(statement) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw error(sql)
        }
    }

    private func error(_ sql: String) -> SQLiteError {
        SQLiteError(code: sqlite3_errcode(handle) & 0xFF, message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }

    private static func value(_ statement: OpaquePointer, _ column: Int32) -> SQLiteValue {
        switch sqlite3_column_type(statement, column) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(statement, column))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(statement, column))
        case SQLITE_TEXT, SQLITE_BLOB: return .text(String(cString: sqlite3_column_text(statement, column)))
        default: return .null
        }
    }
}

/// One result row, read by column name.
struct SQLiteRow {
    let values: [String: SQLiteValue]

    /// The column as `T`; a NULL or a value of another kind gives `T`'s
    /// fallback (0, "" or false) rather than a crash.
    subscript<T: SQLiteColumnValue>(_ column: String) -> T {
        values[column].flatMap(T.init(sqliteValue:)) ?? T.fallback
    }

    /// The column as `T`, nil when NULL.
    subscript<T: SQLiteColumnValue>(_ column: String) -> T? {
        values[column].flatMap(T.init(sqliteValue:))
    }
}

/// A Swift value that can be bound as a statement parameter.
protocol SQLiteBindable {
    var sqliteValue: SQLiteValue { get }
}

/// A Swift value that a column can be read as.
protocol SQLiteColumnValue {
    init?(sqliteValue: SQLiteValue)
    static var fallback: Self { get }
}

extension String: SQLiteBindable, SQLiteColumnValue {
    var sqliteValue: SQLiteValue { .text(self) }
    init?(sqliteValue: SQLiteValue) {
        guard case .text(let text) = sqliteValue else { return nil }
        self = text
    }
    static var fallback: String { "" }
}

extension Int64: SQLiteBindable, SQLiteColumnValue {
    var sqliteValue: SQLiteValue { .integer(self) }
    init?(sqliteValue: SQLiteValue) {
        switch sqliteValue {
        case .integer(let value): self = value
        case .real(let value): self = Int64(value)
        default: return nil
        }
    }
    static var fallback: Int64 { 0 }
}

extension Int: SQLiteBindable, SQLiteColumnValue {
    var sqliteValue: SQLiteValue { .integer(Int64(self)) }
    init?(sqliteValue: SQLiteValue) {
        guard let value = Int64(sqliteValue: sqliteValue) else { return nil }
        self = Int(value)
    }
    static var fallback: Int { 0 }
}

extension Double: SQLiteBindable, SQLiteColumnValue {
    var sqliteValue: SQLiteValue { .real(self) }
    init?(sqliteValue: SQLiteValue) {
        switch sqliteValue {
        case .integer(let value): self = Double(value)
        case .real(let value): self = value
        default: return nil
        }
    }
    static var fallback: Double { 0 }
}

extension Bool: SQLiteBindable, SQLiteColumnValue {
    var sqliteValue: SQLiteValue { .integer(self ? 1 : 0) }
    init?(sqliteValue: SQLiteValue) {
        guard let value = Int64(sqliteValue: sqliteValue) else { return nil }
        self = value != 0
    }
    static var fallback: Bool { false }
}

extension Optional: SQLiteBindable where Wrapped: SQLiteBindable {
    var sqliteValue: SQLiteValue { self?.sqliteValue ?? .null }
}
