/// SluiceBroker
public enum SluiceBrokerModule {}
