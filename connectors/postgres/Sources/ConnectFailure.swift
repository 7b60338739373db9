/// Why a connection attempt failed, and whether retrying can help.
///
/// libpq gives no SQLSTATE for a failed connection (the server's error stays inside the `PGconn`), so
/// none is made up: the cause is read from libpq's message, with the quoted parts (host names, users,
/// databases, socket paths) left out first, so that a host called `nonexistent.invalid` is not
/// mistaken for an invalid option. What the user must fix (a password, a role, a database, the
/// server's pg_hba.conf, an option) is fatal; anything else, a host name that does not resolve, a
/// server that is down, starting, full or slow to answer, and any message not recognised (a server
/// may answer in another language), is transient and retried.
enum ConnectFailure: String, Sendable, CaseIterable {
    case noPassword = "no_password"
    case authentication
    case unknownRole = "unknown_role"
    case unknownDatabase = "unknown_database"
    /// pg_hba.conf rejects the connection, or the role may not log in or connect to the database.
    case rejected = "connection_rejected"
    case badOption = "connection_option"
    case ssl
    /// The server cannot be reached now: retry.
    case unreachable = "connection"

    var isFatal: Bool { self != .unreachable }

    /// What to do about it.
    var hint: String {
        switch self {
        case .noPassword:
            return "the server asks for a password and none was given; set PGPASSWORD or add the server to ~/.pgpass "
                + "(or give password in the connection)"
        case .authentication: return "check the connection's user and password"
        case .unknownRole: return "check the user in the connection, or create the role"
        case .unknownDatabase: return "check the database (dbname) in the connection, or create it"
        case .rejected:
            return "the server does not let this user connect: check its pg_hba.conf and the role's LOGIN and "
                + "CONNECT rights"
        case .badOption: return "check the options in the connection"
        case .ssl: return "check sslmode and the certificates named in the connection"
        case .unreachable: return "will retry"
        }
    }

    /// The cause of a failed connection, from libpq's message and whether libpq found that the server
    /// wanted a password it did not have (`PQconnectionNeedsPassword`).
    static func classify(_ message: String, needsPassword: Bool) -> ConnectFailure {
        if needsPassword { return .noPassword }
        let text = withoutQuotedParts(message).lowercased()
        let rules: [(ConnectFailure, [String])] = [
            (.noPassword, ["no password supplied"]),
            (.authentication, ["authentication failed", "password authentication", "password is required"]),
            (.unknownRole, ["role \"\" does not exist"]),
            (.unknownDatabase, ["database \"\" does not exist"]),
            (
                .rejected,
                [
                    "no pg_hba.conf entry", "pg_hba.conf rejects", "is not permitted to log in",
                    "permission denied for database",
                ]
            ),
            (.badOption, ["invalid connection option", "invalid integer value", "invalid port number", "value: \"\""]),
            (.ssl, ["certificate", "does not support ssl", "ssl was required", "sslmode"]),
        ]
        for (failure, texts) in rules where texts.contains(where: text.contains) { return failure }
        return .unreachable
    }

    /// `message` with the text between double quotes removed: `role "" does not exist`.
    static func withoutQuotedParts(_ message: String) -> String {
        var out = ""
        var quoted = false
        for character in message {
            if character == "\"" {
                quoted.toggle()
                out.append(character)
            } else if !quoted {
                out.append(character)
            }
        }
        return out
    }
}
