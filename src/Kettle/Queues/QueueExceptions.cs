namespace Kettle;

/// <summary>Thrown by <see cref="AioQueue{T}.GetNowait"/> on an empty queue. asyncio counterpart: <c>asyncio.QueueEmpty</c>.</summary>
public class QueueEmptyException : Exception
{
    /// <summary>Creates the exception.</summary>
    public QueueEmptyException()
        : base("The queue is empty.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public QueueEmptyException(string? message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public QueueEmptyException(string? message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>Thrown by <see cref="AioQueue{T}.PutNowait"/> on a full queue. asyncio counterpart: <c>asyncio.QueueFull</c>.</summary>
public class QueueFullException : Exception
{
    /// <summary>Creates the exception.</summary>
    public QueueFullException()
        : base("The queue is full.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public QueueFullException(string? message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public QueueFullException(string? message, Exception? innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// Thrown by puts on a queue that was shut down, and by gets once such a queue is empty.
/// asyncio counterpart: <c>asyncio.QueueShutDown</c> (3.13+).
/// </summary>
public class QueueShutDownException : Exception
{
    /// <summary>Creates the exception.</summary>
    public QueueShutDownException()
        : base("The queue was shut down.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public QueueShutDownException(string? message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public QueueShutDownException(string? message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
