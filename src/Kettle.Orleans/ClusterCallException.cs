namespace Kettle.Orleans;

/// <summary>
/// Why a call to the cluster failed without an outcome from the user's method. asyncio counterpart: none (Python's
/// process pool only knows <c>BrokenProcessPool</c>). Threading: a value; any thread.
/// </summary>
public enum ClusterCallFailure
{
    /// <summary>A silo refused the call before running it: the method is not in its allow-list, the job assembly's version differs, or there is no such method.</summary>
    Rejected = 0,

    /// <summary>The call never reached a worker (no silo or gateway took it), even after the bounded retries; it did not run.</summary>
    NotDelivered = 1,

    /// <summary>The silo running the call was lost (it died, or the response timed out): the call may or may not have run. Retried only for idempotent methods.</summary>
    WorkerLost = 2,
}

/// <summary>
/// A call to a <see cref="ClusterExecutor"/> failed for a reason of the cluster, not of the method: see
/// <see cref="Failure"/>. (The method's own exceptions arrive as <see cref="RemoteException"/>; a call past its
/// deadline as <see cref="TimeoutException"/>.) asyncio counterpart: <c>concurrent.futures.process.BrokenProcessPool</c>.
/// </summary>
/// <remarks>Threading: immutable; any thread.</remarks>
public sealed class ClusterCallException : Exception
{
    /// <summary>Creates an empty cluster call exception.</summary>
    public ClusterCallException()
        : base("A call to the cluster failed.")
    {
    }

    /// <summary>Creates a cluster call exception with a message.</summary>
    public ClusterCallException(string? message)
        : base(message)
    {
    }

    /// <summary>Creates a cluster call exception with a message and an inner exception.</summary>
    public ClusterCallException(string? message, Exception? innerException)
        : base(message, innerException)
    {
    }

    internal ClusterCallException(ClusterCallFailure failure, string message, string methodName, int attempts, Exception? innerException = null)
        : base(message, innerException)
    {
        Failure = failure;
        MethodName = methodName;
        Attempts = attempts;
    }

    /// <summary>Why the call failed.</summary>
    public ClusterCallFailure Failure { get; }

    /// <summary>The method called (<c>Namespace.Type.Method</c>), or null.</summary>
    public string? MethodName { get; }

    /// <summary>How many times the call was sent.</summary>
    public int Attempts { get; }
}
