using System.Runtime.InteropServices;

namespace Kettle;

/// <summary>
/// The running loops of the process, held weakly: what the observable metrics and the "Kettle" event source's
/// snapshots (kettle ps / pstree / top) look at.
/// </summary>
/// <remarks>Threading: any thread. The lock guards only the list, never a loop's state, and is held for a list copy.</remarks>
internal static class LiveLoops
{
    private static readonly List<WeakReference<EventLoop>> Loops = new();

    /// <summary>On the loop thread, as the loop starts running.</summary>
    public static void Started(EventLoop loop)
    {
        loop.osThreadId = CurrentOsThreadId();
        lock (Loops)
        {
            Loops.RemoveAll(w => !w.TryGetTarget(out _));
            Loops.Add(new WeakReference<EventLoop>(loop));
        }
        KettleEventSource.EnsureCreated();
    }

    public static void Stopped(EventLoop loop)
    {
        lock (Loops)
        {
            Loops.RemoveAll(w => !w.TryGetTarget(out var l) || ReferenceEquals(l, loop));
        }
    }

    /// <summary>The loops running now, in the order they started.</summary>
    public static List<EventLoop> Running()
    {
        var result = new List<EventLoop>();
        lock (Loops)
        {
            foreach (var w in Loops)
            {
                if (w.TryGetTarget(out var l) && l.IsRunning)
                {
                    result.Add(l);
                }
            }
        }
        return result;
    }

    /// <summary>The calling thread's id as the operating system knows it (asyncio's ps shows that one); 0 if unknown.</summary>
    private static int CurrentOsThreadId()
    {
        try
        {
            if (OperatingSystem.IsLinux())
            {
                return NativeThreads.gettid();
            }
            if (OperatingSystem.IsWindows())
            {
                return (int)NativeThreads.GetCurrentThreadId();
            }
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
        }
        return 0;
    }

    private static class NativeThreads
    {
        [DllImport("libc", SetLastError = false)]
        public static extern int gettid();

        [DllImport("kernel32.dll", SetLastError = false)]
        public static extern uint GetCurrentThreadId();
    }
}
