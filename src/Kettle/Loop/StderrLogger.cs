using Microsoft.Extensions.Logging;

namespace Kettle;

/// <summary>
/// The logger used when no <see cref="ILoggerFactory"/> is configured: a report such as
/// "Task exception was never retrieved" must reach someone, so it goes to standard error.
/// </summary>
/// <remarks>Threading: any thread.</remarks>
internal sealed class StderrLogger : ILogger
{
    public static readonly StderrLogger Instance = new();

    private static readonly object WriteLock = new();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel))
        {
            return;
        }
        var text = $"kettle: {logLevel.ToString().ToLowerInvariant()}: {formatter(state, exception)}";
        if (exception is not null)
        {
            text += Environment.NewLine + exception;
        }
        lock (WriteLock)
        {
            Console.Error.WriteLine(text);
        }
    }
}
