/// The life of a sink's PostgreSQL connection as a pure state machine: events come in as `mutating`
/// calls and the answer says what the driver (`PostgresConnection`) must do. No libpq here, so the
/// rules are tested without a server.
///
/// disconnected → (connect) → ready → (begin) → inTransaction → (commit | rollback) → ready; any
/// failure of the connection itself → broken, from which the next use reconnects.
struct ConnectionState: Equatable, Sendable {
    enum Phase: Equatable, Sendable {
        case disconnected
        case ready
        case inTransaction
        /// The transaction hit an error; only a rollback (to a savepoint or all of it) is possible.
        case failedTransaction
        case broken
    }

    /// What the driver must do before running a statement.
    enum Action: Equatable, Sendable {
        /// Nothing: the connection is in the phase the statement needs.
        case proceed
        /// Open a connection first (dropping a broken one).
        case connect
        /// Start a transaction first.
        case begin
        /// Roll back first; the statement cannot run in a failed transaction.
        case rollback
    }

    private(set) var phase: Phase = .disconnected

    /// Before work that must run inside a transaction.
    func beforeTransactionalWork() -> Action {
        switch phase {
        case .disconnected, .broken: return .connect
        case .ready: return .begin
        case .inTransaction: return .proceed
        case .failedTransaction: return .rollback
        }
    }

    /// Before work that runs outside a transaction (catalog queries, DDL in its own transaction).
    func beforeStandaloneWork() -> Action {
        switch phase {
        case .disconnected, .broken: return .connect
        case .ready: return .proceed
        case .inTransaction, .failedTransaction: return .rollback
        }
    }

    mutating func connected() { phase = .ready }
    mutating func began() { phase = .inTransaction }
    mutating func finishedTransaction() { phase = .ready }
    /// A statement failed inside the transaction (a data error, say); the connection is fine.
    mutating func statementFailed() { if phase == .inTransaction { phase = .failedTransaction } }
    /// A rollback to a savepoint made the transaction usable again.
    mutating func recoveredToSavepoint() { if phase == .failedTransaction { phase = .inTransaction } }
    /// The connection itself failed or was closed.
    mutating func lost() { phase = .broken }
    mutating func closed() { phase = .disconnected }
}
