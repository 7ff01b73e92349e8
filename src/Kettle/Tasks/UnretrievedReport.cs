using Microsoft.Extensions.Logging;

namespace Kettle;

/// <summary>
/// A finalizable guard that reports, when its task or coroutine is collected, what nobody looked at:
/// "Task exception was never retrieved" or "coroutine '...' was never awaited" (asyncio reports both
/// from <c>__del__</c>). Dismissed, with its finalizer suppressed, as soon as someone looks.
/// </summary>
/// <remarks>Threading: made on the loop thread; its finalizer runs on the finalizer thread.</remarks>
internal sealed class UnretrievedReport
{
    private readonly EventLoop? loop;
    private readonly string message;
    private readonly Exception? exception;
    private readonly string? trace;
    private readonly AioTask? task;

    private UnretrievedReport(EventLoop? loop, string message, Exception? exception, string? trace, AioTask? task)
    {
        this.loop = loop;
        this.message = message;
        this.exception = exception;
        this.trace = trace;
        this.task = task;
    }

    public static UnretrievedReport ForException(AioTask task, EventLoop loop) =>
        new(loop, $"Task exception was never retrieved: task '{task.Name}' ({task.CoroutineName}) failed and nobody awaited it or read its exception",
            task.error, task.extras?.CreationTrace, task);

    public static UnretrievedReport ForColdCoroutine(AioTask box, EventLoop? loop) =>
        new(loop, $"coroutine '{box.CoroutineName}' was never awaited", null, box.extras?.CreationTrace, null);

    public void Dismiss() => GC.SuppressFinalize(this);

    ~UnretrievedReport()
    {
        var context = new LoopExceptionContext(message, exception) { Task = task, SourceTrace = trace };
        try
        {
            if (loop is null)
            {
                var logger = Aio.DefaultLoggerFactory?.CreateLogger("Kettle") ?? StderrLogger.Instance;
                logger.LogWarning("{Message}{Source}", message, trace is null ? "" : Environment.NewLine + "Coroutine created at (most recent call first, as .NET prints stacks):" + Environment.NewLine + trace);
            }
            else if (!loop.IsRunning || !loop.TryEnqueueThreadsafe(new Handle(loop, (Action)(() => loop.CallExceptionHandler(context)), null)))
            {
                loop.CallExceptionHandler(context);
            }
        }
        catch (Exception)
        {
            // A finalizer must not throw; there is nobody left to tell.
        }
    }
}
