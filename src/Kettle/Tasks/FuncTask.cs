namespace Kettle;

/// <summary>
/// A task running a plain <c>async Task</c> method: its first step (queued, never inline) calls the
/// delegate; the task finishes when the returned <see cref="Task"/> does. Kettle awaits inside the
/// method (Sleep, awaiting tasks) are cancellation points of this task; foreign awaits inside it see
/// cancellation through <see cref="AioTask.CancellationToken"/>.
/// </summary>
internal sealed class FuncTask<T> : AioTask<T>
{
    private Delegate? func;
    private Task? running;
    private readonly string name;

    public FuncTask(Delegate func)
    {
        this.func = func;
        name = MethodNames.FromMethod(func.Method);
    }

    internal override string CoroutineName => name;

    internal override void ResumeCore()
    {
        if (running is { } t)
        {
            Finish(t);
            return;
        }
        var f = func!;
        func = null;
        try
        {
            t = f switch
            {
                Func<Task<T>> g => g(),
                Func<CancellationToken, Task<T>> g => g(CancellationToken),
                Func<Task> g => g(),
                Func<CancellationToken, Task> g => g(CancellationToken),
                _ => throw new InvalidOperationException("Unsupported delegate type."),
            } ?? throw new InvalidOperationException($"The delegate of task '{Name}' returned a null Task.");
        }
        catch (Exception ex)
        {
            CompleteFrame(ex);
            return;
        }
        running = t;
        if (t.IsCompleted)
        {
            Finish(t);
            return;
        }
        t.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(OnTaskCompleted);
    }

    private void OnTaskCompleted()
    {
        var l = loop!;
        resumeFrame = this;
        if (l.IsOnLoopThread)
        {
            l.Ready.Enqueue(this);
        }
        else if (!l.TryEnqueueThreadsafe(this))
        {
            l.CallExceptionHandler(new LoopExceptionContext($"Task '{Name}' finished after its event loop closed.", running?.Exception) { Task = this });
        }
    }

    private void Finish(Task t)
    {
        if (t.IsCompletedSuccessfully)
        {
            if (t is Task<T> typed)
            {
                result = typed.Result;
            }
            CompleteFrame(null);
            return;
        }
        try
        {
            t.GetAwaiter().GetResult();
            CompleteFrame(null);
        }
        catch (Exception ex)
        {
            CompleteFrame(ex);
        }
    }
}
