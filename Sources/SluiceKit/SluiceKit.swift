/// SluiceKit
public enum SluiceKitModule {}
