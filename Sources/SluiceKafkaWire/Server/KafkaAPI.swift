/// The Kafka APIs the listener serves, with the versions it advertises and the versions it answers.
///
/// Old minimum versions are advertised even where only newer ones are served (answered with an error
/// per partition): librdkafka 2.0 turns features off when a broker's advertised range does not reach
/// back (KAFKA-18659). Served versions stop at the last non-flexible one, but for ApiVersions.
public enum KafkaAPI: Int16, CaseIterable, Sendable {
    case produce = 0
    case fetch = 1
    case listOffsets = 2
    case metadata = 3
    case offsetCommit = 8
    case offsetFetch = 9
    case findCoordinator = 10
    case joinGroup = 11
    case heartbeat = 12
    case leaveGroup = 13
    case syncGroup = 14
    case describeGroups = 15
    case listGroups = 16
    case apiVersions = 18
    case createTopics = 19
    case deleteTopics = 20
    case initProducerId = 22

    /// The versions advertised in ApiVersions.
    public var advertised: ClosedRange<Int16> {
        switch self {
        case .produce: return 0...8
        case .fetch: return 0...11
        case .listOffsets: return 0...5
        case .metadata: return 0...8
        case .offsetCommit: return 0...7
        case .offsetFetch: return 0...5
        case .findCoordinator: return 0...2
        case .joinGroup: return 0...5
        case .heartbeat: return 0...3
        case .leaveGroup: return 0...3
        case .syncGroup: return 0...3
        case .describeGroups: return 0...4
        case .listGroups: return 0...2
        case .apiVersions: return 0...4
        case .createTopics: return 0...4
        case .deleteTopics: return 0...3
        case .initProducerId: return 0...1
        }
    }

    /// The versions answered in full; an advertised version below them gets an error answer.
    public var served: ClosedRange<Int16> {
        switch self {
        case .produce: return 3...8  // record batches v2 (magic 2) arrive from Produce v3
        case .fetch: return 4...11  // v4 returns record batches v2
        default: return advertised
        }
    }

    /// Whether `version` of this API uses the flexible encoding (compact strings, tagged fields).
    public func isFlexible(_ version: Int16) -> Bool {
        switch self {
        case .apiVersions: return version >= 3
        default: return false
        }
    }
}

/// Kafka's error codes the listener answers with.
public enum KafkaError: Int16, Sendable {
    case none = 0
    case unknown = -1
    case offsetOutOfRange = 1
    case corruptMessage = 2
    case unknownTopicOrPartition = 3
    case leaderNotAvailable = 5
    case notLeaderOrFollower = 6
    case requestTimedOut = 7
    case messageTooLarge = 10
    case coordinatorNotAvailable = 15
    case notCoordinator = 16
    case invalidTopic = 17
    case recordListTooLarge = 18
    case invalidRequiredAcks = 21
    case illegalGeneration = 22
    case inconsistentGroupProtocol = 23
    case invalidGroupId = 24
    case unknownMemberID = 25
    case invalidSessionTimeout = 26
    case rebalanceInProgress = 27
    case topicAuthorizationFailed = 29
    case unsupportedVersion = 35
    case topicAlreadyExists = 36
    case invalidPartitions = 37
    case invalidReplicationFactor = 38
    case invalidRequest = 42
    case unsupportedForMessageFormat = 43
    case outOfOrderSequenceNumber = 45
    case duplicateSequenceNumber = 46
    case invalidProducerEpoch = 47
    case invalidConfig = 40
    case transactionalIdAuthorizationFailed = 53
    case unsupportedCompressionType = 76
    case unknownProducerId = 59
    case groupIdNotFound = 69
    case memberIdRequired = 79
    case kafkaStorageError = 56
}
