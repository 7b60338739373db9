import Testing

@testable import SluicePostgres

/// A connection string libpq cannot read is named without repeating a value (which may be a password).
@Suite struct ConnectionStringTests {
    @Test func aMisspelledOptionIsNamedWithASuggestion() {
        let problem = PostgresConnection.problem(in: "host=db pasword=hunter2")
        #expect(problem == #"unknown connection option "pasword"; did you mean "password"?"#)
    }

    @Test func otherMistakesNeverRepeatAValue() throws {
        let problem = try #require(PostgresConnection.problem(in: "host=db hunter2"))
        #expect(!problem.contains("hunter2"))
        #expect(PostgresConnection.problem(in: "host=db password=hunter2 port=5432") == nil)
    }
}
