using System.Diagnostics.CodeAnalysis;

/// <summary>
/// Entry point of a <see cref="Kettle.ProcessPoolExecutor"/> worker. The pool starts workers from the application's
/// own build with <c>DOTNET_STARTUP_HOOKS</c> naming Kettle.dll and <c>KETTLE_WORKER=1</c>; the runtime calls
/// <see cref="Initialize"/> before <c>Main</c>, which then never runs: the worker serves calls and exits. In any
/// other process it returns at once. The runtime requires this name, in the global namespace.
/// </summary>
/// <remarks>Threading: called once by the runtime, on the main thread, before <c>Main</c>.</remarks>
[SuppressMessage("Design", "CA1050:Declare types in namespaces", Justification = "The runtime looks startup hooks up as the global type StartupHook.")]
internal static class StartupHook
{
    /// <summary>Runs the worker loop and exits if this process is a pool worker; otherwise returns.</summary>
    public static void Initialize()
    {
        if (!Kettle.ProcessWorker.IsWorkerProcess)
        {
            return;
        }
        Environment.Exit(Kettle.ProcessWorker.Run());
    }
}
