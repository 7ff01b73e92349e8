using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Text.Json;

namespace Kettle;

/// <summary>
/// The worker side of a <see cref="ProcessPoolExecutor"/>: started by <see cref="StartupHook"/> in a process launched
/// from the application's own build, it reads requests on stdin, calls the methods, and writes replies on stdout.
/// The user's <c>Main</c> never runs in a worker.
/// </summary>
/// <remarks>
/// Threading: requests run one at a time on the hook's thread. A background thread reads stdin, so the worker ends
/// as soon as its parent closes it or dies, even in the middle of a call.
/// </remarks>
internal static class ProcessWorker
{
    /// <summary>Set to "1" in a worker's environment.</summary>
    public const string WorkerVariable = "KETTLE_WORKER";

    /// <summary>The parent's own DOTNET_STARTUP_HOOKS, restored in the worker so processes it starts are not workers.</summary>
    public const string SavedHooksVariable = "KETTLE_WORKER_SAVED_STARTUP_HOOKS";

    public const string StartupHooksVariable = "DOTNET_STARTUP_HOOKS";

    private static readonly Dictionary<(Guid, int), MethodInfo> Methods = new();

    public static bool IsWorkerProcess => Environment.GetEnvironmentVariable(WorkerVariable) == "1";

    /// <summary>Serves requests until stdin ends; returns the exit code.</summary>
    [SuppressMessage("Reliability", "CA2000:Dispose objects before losing scope", Justification = "The streams live as long as the process.")]
    public static int Run()
    {
        var input = Console.OpenStandardInput();
        var output = Console.OpenStandardOutput();
        // The protocol owns stdout: what the user's code prints goes to stderr, and nothing reads the protocol's stdin.
        Console.SetOut(new StreamWriter(Console.OpenStandardError()) { AutoFlush = true });
        Console.SetIn(StreamReader.Null);
        Environment.SetEnvironmentVariable(StartupHooksVariable, Environment.GetEnvironmentVariable(SavedHooksVariable) is { Length: > 0 } saved ? saved : null);
        Environment.SetEnvironmentVariable(SavedHooksVariable, null);
        Environment.SetEnvironmentVariable(WorkerVariable, null);

        var inbox = new BlockingCollection<WorkerRequest>();
        var reader = new Thread(() =>
        {
            try
            {
                while (ProcessProtocol.Read<WorkerRequest>(input) is { } request)
                {
                    inbox.Add(request);
                }
            }
            catch (Exception ex)
            {
                Console.Error.WriteLine($"kettle worker {Environment.ProcessId}: bad request stream: {ex.Message}");
            }
            // The parent closed stdin (retiring this worker) or died: end now, even if a call is running.
            Environment.Exit(0);
        })
        {
            IsBackground = true,
            Name = "kettle-worker-stdin",
        };
        reader.Start();
        foreach (var request in inbox.GetConsumingEnumerable())
        {
            ProcessProtocol.Write(output, Handle(request));
        }
        return 0;
    }

    private static WorkerReply Handle(WorkerRequest request)
    {
        var reply = new WorkerReply { Id = request.Id, ProcessId = Environment.ProcessId };
        try
        {
            if (request.Assembly is null)
            {
                reply.Ok = true;
                return reply;
            }
            var method = Resolve(request);
            var parameters = method.GetParameters();
            var args = request.Args ?? [];
            if (args.Length != parameters.Length)
            {
                throw new InvalidOperationException($"{request.Name} takes {parameters.Length} argument(s); the request carries {args.Length}.");
            }
            var values = new object?[args.Length];
            for (int i = 0; i < args.Length; i++)
            {
                values[i] = args[i].Deserialize(parameters[i].ParameterType, ProcessCall.JsonOptions);
            }
            object? result = method.Invoke(null, BindingFlags.DoNotWrapExceptions, null, values, null);
            if (method.ReturnType != typeof(void))
            {
                var json = JsonSerializer.SerializeToElement(result, method.ReturnType, ProcessCall.JsonOptions);
                var again = JsonSerializer.SerializeToElement(json.Deserialize(method.ReturnType, ProcessCall.JsonOptions), method.ReturnType, ProcessCall.JsonOptions);
                if (!JsonElement.DeepEquals(json, again))
                {
                    throw new NotSupportedException(
                        $"The result of {request.Name} ({method.ReturnType.FullName}) does not survive System.Text.Json: read back, it is not the value that was returned. Return plain data.");
                }
                reply.Result = json;
            }
            reply.Ok = true;
        }
        catch (Exception ex)
        {
            reply.Ok = false;
            reply.Error = RemoteError.From(ex);
        }
        return reply;
    }

    /// <summary>The method the parent named: same build, public, static, non-generic, on a public type.</summary>
    private static MethodInfo Resolve(WorkerRequest request)
    {
        var key = (request.Mvid, request.Token);
        if (Methods.TryGetValue(key, out var cached))
        {
            return cached;
        }
        var assembly = Assembly.Load(new AssemblyName(request.Assembly!));
        if (assembly.ManifestModule.ModuleVersionId != request.Mvid)
        {
            throw new InvalidOperationException(
                $"The worker loaded a different build of {request.Assembly} than the parent's ({assembly.Location}); {request.Name} cannot be called. " +
                "Set ProcessPoolOptions.WorkerAssembly, or make sure the worker starts from the same build.");
        }
        if (assembly.ManifestModule.ResolveMethod(request.Token) is not MethodInfo method
            || !method.IsStatic || !method.IsPublic || method.ContainsGenericParameters || method.DeclaringType is not { IsVisible: true })
        {
            throw new InvalidOperationException($"{request.Name} is not a public static method of a public class in the worker's build.");
        }
        Methods[key] = method;
        return method;
    }
}
