using System.Globalization;
using System.Text;

namespace Kettle;

/// <summary>
/// An exception raised by a function that ran in a worker process of a <see cref="ProcessPoolExecutor"/>, carried
/// back as text: the original exception's type name, message and stack trace (an exception object cannot cross a
/// process boundary safely). Its <see cref="Exception.Message"/> reads like the original's <c>ToString</c> head,
/// e.g. <c>System.InvalidOperationException: boom</c>; its <see cref="Exception.InnerException"/> is the original's
/// inner exception, carried the same way.
/// asyncio counterpart: the exception <c>concurrent.futures.ProcessPoolExecutor</c> re-raises, with the remote
/// traceback attached as <c>_RemoteTraceback</c>.
/// </summary>
/// <remarks>Threading: immutable; any thread.</remarks>
public sealed class RemoteException : Exception
{
    /// <summary>Creates an empty remote exception.</summary>
    public RemoteException()
        : this(null, null, null, null)
    {
    }

    /// <summary>Creates a remote exception with a message.</summary>
    public RemoteException(string? message)
        : this(null, message, null, null)
    {
    }

    /// <summary>Creates a remote exception with a message and an inner exception.</summary>
    public RemoteException(string? message, Exception? innerException)
        : this(null, message, null, innerException)
    {
    }

    /// <summary>Creates the exception for a remote exception of type <paramref name="remoteType"/>.</summary>
    /// <param name="remoteType">The full name of the original exception's type.</param>
    /// <param name="remoteMessage">The original message.</param>
    /// <param name="remoteStackTrace">The original stack trace, as text.</param>
    /// <param name="innerException">The original inner exception, carried the same way.</param>
    public RemoteException(string? remoteType, string? remoteMessage, string? remoteStackTrace, Exception? innerException)
        : base(remoteType is null ? remoteMessage ?? "An exception was raised in a worker process." : $"{remoteType}: {remoteMessage}", innerException)
    {
        RemoteType = remoteType ?? typeof(Exception).FullName!;
        RemoteMessage = remoteMessage ?? string.Empty;
        RemoteStackTrace = remoteStackTrace;
    }

    /// <summary>The full name of the original exception's type, e.g. <c>System.InvalidOperationException</c>.</summary>
    public string RemoteType { get; }

    /// <summary>The original exception's message.</summary>
    public string RemoteMessage { get; }

    /// <summary>The original exception's stack trace in the worker process, as text.</summary>
    public string? RemoteStackTrace { get; }

    /// <summary>The remote exception's type, message and stack, then the inner exceptions, then the local stack.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append(typeof(RemoteException).FullName).Append(": ").Append(Message);
        if (InnerException is not null)
        {
            sb.Append(" ---> ").Append(InnerException.ToString()).AppendLine().Append("   --- End of inner exception stack trace ---");
        }
        if (!string.IsNullOrEmpty(RemoteStackTrace))
        {
            sb.AppendLine().Append("   --- Stack trace in the worker process ---").AppendLine().Append(RemoteStackTrace);
        }
        if (StackTrace is { } local)
        {
            sb.AppendLine().Append(CultureInfo.InvariantCulture, $"   --- Stack trace in this process ---").AppendLine().Append(local);
        }
        return sb.ToString();
    }
}

/// <summary>
/// A worker process of a <see cref="ProcessPoolExecutor"/> died (killed, crashed by a stack overflow, or ended by
/// <see cref="Environment.Exit(int)"/>) while it ran a call, or could not start: the call fails with this exception,
/// naming the worker and how it ended. Only the call it was running fails; the pool starts a new worker for the rest.
/// asyncio counterpart: <c>concurrent.futures.process.BrokenProcessPool</c> (Python then gives up on the whole
/// pool; Kettle replaces the worker).
/// </summary>
/// <remarks>Threading: immutable; any thread.</remarks>
public sealed class WorkerProcessException : Exception
{
    /// <summary>Creates an empty worker process exception.</summary>
    public WorkerProcessException()
        : base("A worker process died.")
    {
    }

    /// <summary>Creates a worker process exception with a message.</summary>
    public WorkerProcessException(string? message)
        : base(message)
    {
    }

    /// <summary>Creates a worker process exception with a message and an inner exception.</summary>
    public WorkerProcessException(string? message, Exception? innerException)
        : base(message, innerException)
    {
    }

    internal WorkerProcessException(string message, int processId, int? exitCode, string? methodName, Exception? innerException = null)
        : base(message, innerException)
    {
        ProcessId = processId;
        ExitCode = exitCode;
        MethodName = methodName;
    }

    /// <summary>The worker's process id (0 if it never started).</summary>
    public int ProcessId { get; }

    /// <summary>The worker's exit code, if it ended; on Unix, a process killed by signal N reports 128 + N.</summary>
    public int? ExitCode { get; }

    /// <summary>The signal that killed the worker (Unix), inferred from an exit code above 128; otherwise null.</summary>
    public int? Signal => !OperatingSystem.IsWindows() && ExitCode is > 128 and < 160 ? ExitCode - 128 : null;

    /// <summary>The method the worker was running (<c>Namespace.Type.Method</c>), or null.</summary>
    public string? MethodName { get; }

    internal static string DescribeExit(int? exitCode)
    {
        if (exitCode is null)
        {
            return "its exit status is unknown";
        }
        if (!OperatingSystem.IsWindows() && exitCode is > 128 and < 160)
        {
            int signal = exitCode.Value - 128;
            string name = signal switch
            {
                4 => "SIGILL",
                6 => "SIGABRT",
                7 => "SIGBUS",
                8 => "SIGFPE",
                9 => "SIGKILL",
                11 => "SIGSEGV",
                15 => "SIGTERM",
                _ => "signal " + signal.ToString(CultureInfo.InvariantCulture),
            };
            string hint = signal == 6 ? "; a stack overflow or a fatal runtime error aborts the process: see its standard error" : string.Empty;
            return string.Create(CultureInfo.InvariantCulture, $"killed by signal {signal} ({name}), exit code {exitCode}{hint}");
        }
        return string.Create(CultureInfo.InvariantCulture, $"exit code {exitCode}");
    }
}
