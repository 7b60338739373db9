/// SluiceRuntime
public enum SluiceRuntimeModule {}
