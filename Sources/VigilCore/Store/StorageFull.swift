#if canImport(Glibc)
    import Glibc
#endif

/// A full data directory (disk or quota): SQLite's `SQLITE_FULL`, or
/// `ENOSPC`/`EDQUOT` from a file write.
///
/// It is an operating condition, not a bug: requests that would store
/// something are refused (the server answers `storage_full`) with a message that says what to
/// do, live view goes on (it needs no disk), and writing resumes by itself
/// once space returns.
public enum StorageFull {
    public static func isCause(of error: any Error) -> Bool {
        switch error {
        case let error as SQLiteError: return error.isDiskFull
        case let error as AtomicFile.Failure: return isFull(errno: error.code)
        case let error as SessionFile.Failure: return isFull(errno: error.code)
        default: return false
        }
    }

    /// The message for clients: the cause and what to do about it.
    public static func message(_ cause: String) -> String {
        "no space left in the data directory (\(cause)); free some space or lower events.max_bytes; "
            + "live view goes on and writing resumes when space returns"
    }

    static func isFull(errno code: Int32) -> Bool {
        code == ENOSPC || code == EDQUOT
    }
}
