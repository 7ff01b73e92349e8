namespace Kettle;

/// <summary>
/// Raised at a task's current await when the task is cancelled. asyncio counterpart:
/// <c>asyncio.CancelledError</c>. It is an <see cref="OperationCanceledException"/>, so .NET code that
/// handles cancellation keeps working; unlike asyncio's, it derives from <see cref="Exception"/>
/// (as every .NET exception does), so a bare <c>catch (Exception)</c> also catches it: rethrow it,
/// or call <see cref="AioTask.Uncancel"/> if you really mean to carry on.
/// </summary>
public class CancelledException : OperationCanceledException
{
    /// <summary>Creates a cancellation with no message.</summary>
    public CancelledException()
        : this(null)
    {
    }

    /// <summary>Creates a cancellation carrying the message given to <see cref="AioTask.Cancel(string?)"/>.</summary>
    public CancelledException(string? cancelMessage)
        : base(cancelMessage ?? "The task was cancelled.")
    {
        CancelMessage = cancelMessage;
    }

    /// <summary>Creates a cancellation with a message and the exception that caused it.</summary>
    public CancelledException(string? cancelMessage, Exception? innerException)
        : base(cancelMessage ?? "The task was cancelled.", innerException)
    {
        CancelMessage = cancelMessage;
    }

    /// <summary>The message passed to <see cref="AioTask.Cancel(string?)"/>, or null (asyncio: <c>args</c>).</summary>
    public string? CancelMessage { get; }
}

/// <summary>
/// Thrown by <see cref="Runner.Run{T}(Coroutine{T}, string?)"/> when Ctrl+C cancelled the main task and
/// the task ended cancelled. asyncio counterpart: <c>KeyboardInterrupt</c> out of <c>asyncio.run</c>.
/// <see cref="Aio.Run{T}(Coroutine{T}, RunOptions?)"/> turns it into exit code 130, as .NET ends on SIGINT.
/// </summary>
public sealed class KeyboardInterruptException : OperationCanceledException
{
    /// <summary>Creates the exception.</summary>
    public KeyboardInterruptException()
        : base("Interrupted by Ctrl+C (SIGINT).")
    {
    }

    /// <summary>Creates the exception with the main task's cancellation as its cause.</summary>
    public KeyboardInterruptException(Exception? innerException)
        : base("Interrupted by Ctrl+C (SIGINT).", innerException)
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    public KeyboardInterruptException(string? message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    public KeyboardInterruptException(string? message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
