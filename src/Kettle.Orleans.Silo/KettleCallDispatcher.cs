using System.Collections.Concurrent;
using System.Reflection;
using System.Text.Json;

namespace Kettle.Orleans;

/// <summary>
/// The silo side of a call, without Orleans: finds the method a <see cref="KettleCallRequest"/> names in the allow-list
/// of job assemblies (same assembly version, public static method of a public class, same parameter types), reads the
/// arguments as the declared parameter types, calls it and writes the reply. Nothing on the wire names a type to
/// create: the declaring type is looked up only inside an allowed assembly, the overload is picked by comparing text.
/// </summary>
/// <remarks>Threading: any thread; calls run on the caller's thread.</remarks>
internal sealed class KettleCallDispatcher
{
    private readonly Dictionary<string, Assembly> allowed = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, MethodInfo> methods = new(StringComparer.Ordinal);

    public KettleCallDispatcher(IEnumerable<Assembly> jobAssemblies)
    {
        ArgumentNullException.ThrowIfNull(jobAssemblies);
        foreach (var assembly in jobAssemblies)
        {
            string name = assembly.GetName().Name ?? throw new ArgumentException("A job assembly has no name.", nameof(jobAssemblies));
            if (allowed.TryGetValue(name, out var other) && other != assembly)
            {
                throw new ArgumentException($"Two job assemblies are named {name}.", nameof(jobAssemblies));
            }
            allowed[name] = assembly;
        }
    }

    /// <summary>The simple names of the allowed job assemblies.</summary>
    public IReadOnlyCollection<string> AllowedAssemblies => allowed.Keys;

    /// <summary>Runs <paramref name="request"/> here and describes the outcome; never throws for the call's sake.</summary>
    public KettleCallReply Invoke(KettleCallRequest request, string silo, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        MethodInfo method;
        object?[] values;
        try
        {
            method = Resolve(request);
            values = ReadArguments(method, request);
        }
        catch (CallRejectedException ex)
        {
            return new KettleCallReply { Status = KettleCallStatus.Rejected, Error = new KettleCallError { Type = "Kettle.Orleans.Rejected", Message = ex.Message }, Silo = silo };
        }
        var parameters = method.GetParameters();
        if (parameters.Length > 0 && parameters[^1].ParameterType == typeof(CancellationToken))
        {
            values[^1] = cancellationToken;
        }
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            object? result = method.Invoke(null, BindingFlags.DoNotWrapExceptions, null, values, null);
            string? json = null;
            if (method.ReturnType != typeof(void))
            {
                var element = JsonSerializer.SerializeToElement(result, method.ReturnType, ProcessCall.JsonOptions);
                var again = JsonSerializer.SerializeToElement(element.Deserialize(method.ReturnType, ProcessCall.JsonOptions), method.ReturnType, ProcessCall.JsonOptions);
                if (!JsonElement.DeepEquals(element, again))
                {
                    throw new NotSupportedException(
                        $"The result of {Name(request)} ({method.ReturnType.FullName}) does not survive System.Text.Json: read back, it is not the value that was returned. Return plain data.");
                }
                json = element.GetRawText();
            }
            return new KettleCallReply { Status = KettleCallStatus.Completed, Result = json, Silo = silo };
        }
        catch (Exception ex)
        {
            return new KettleCallReply { Status = KettleCallStatus.Raised, Error = ToError(ex), Silo = silo };
        }
    }

    /// <summary>The method <paramref name="request"/> names; <see cref="CallRejectedException"/> says why there is none.</summary>
    public MethodInfo Resolve(KettleCallRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        string key = $"{request.Assembly}/{request.AssemblyVersion}/{request.Type}/{request.Method}({string.Join(",", request.ParameterTypes)})";
        if (methods.TryGetValue(key, out var cached))
        {
            return cached;
        }
        if (!allowed.TryGetValue(request.Assembly, out var assembly))
        {
            throw new CallRejectedException(
                $"{Name(request)} is in the assembly {request.Assembly}, which this silo does not run: its job assemblies are " +
                $"[{string.Join(", ", allowed.Keys.Order(StringComparer.Ordinal))}]. Register it with AddKettleWorkers on every silo.");
        }
        string version = assembly.GetName().Version?.ToString() ?? string.Empty;
        if (!string.Equals(version, request.AssemblyVersion, StringComparison.Ordinal))
        {
            throw new CallRejectedException(
                $"{Name(request)} was built against {request.Assembly} {request.AssemblyVersion}, but this silo runs {request.Assembly} {version}. " +
                "Deploy the same version of the job assembly to the silos and the client.");
        }
        // Only plain names are looked up (no generic arguments, no assembly qualification, no pointers): the wire
        // must not be able to make the silo load or close a type.
        if (request.Type.Length == 0 || request.Type.AsSpan().IndexOfAny("[],*&`") >= 0
            || assembly.GetType(request.Type, throwOnError: false) is not { } type)
        {
            throw new CallRejectedException($"{Name(request)}: {request.Assembly} {version} has no type {request.Type}.");
        }
        if (!type.IsVisible || type.IsGenericType)
        {
            throw new CallRejectedException($"{Name(request)}: {request.Type} is not a public, non-generic class.");
        }
        var candidates = type.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly)
            .Where(m => m.Name == request.Method && !m.IsGenericMethod && SameParameters(m, request.ParameterTypes))
            .ToArray();
        if (candidates.Length != 1)
        {
            throw new CallRejectedException(
                $"{Name(request)}: {request.Type} in {request.Assembly} {version} has no public static method {request.Method}({string.Join(", ", request.ParameterTypes)}).");
        }
        methods[key] = candidates[0];
        return candidates[0];
    }

    private static object?[] ReadArguments(MethodInfo method, KettleCallRequest request)
    {
        var parameters = method.GetParameters();
        if (request.Arguments.Count != parameters.Length)
        {
            throw new CallRejectedException($"{Name(request)} takes {parameters.Length} argument(s); the request carries {request.Arguments.Count}.");
        }
        var values = new object?[parameters.Length];
        for (int i = 0; i < values.Length; i++)
        {
            var type = parameters[i].ParameterType;
            if (type == typeof(CancellationToken))
            {
                continue;
            }
            try
            {
                values[i] = JsonSerializer.Deserialize(request.Arguments[i], type, ProcessCall.JsonOptions);
            }
            catch (Exception ex) when (ex is JsonException or NotSupportedException or InvalidOperationException)
            {
                throw new CallRejectedException($"{Name(request)}: argument '{parameters[i].Name}' cannot be read as {type}: {ex.Message}");
            }
        }
        return values;
    }

    private static bool SameParameters(MethodInfo method, IReadOnlyList<string> expected)
    {
        var parameters = method.GetParameters();
        if (parameters.Length != expected.Count)
        {
            return false;
        }
        for (int i = 0; i < parameters.Length; i++)
        {
            if (!string.Equals(parameters[i].ParameterType.ToString(), expected[i], StringComparison.Ordinal))
            {
                return false;
            }
        }
        return true;
    }

    private static string Name(KettleCallRequest request) => $"{request.Type}.{request.Method}";

    internal static KettleCallError ToError(Exception ex, int depth = 0) => new()
    {
        Type = ex.GetType().FullName ?? ex.GetType().Name,
        Message = ex.Message,
        Stack = ex.StackTrace,
        Inner = ex.InnerException is { } inner && depth < 16 ? ToError(inner, depth + 1) : null,
    };
}

/// <summary>A call the silo refuses to run: the message says why. Threading: immutable; any thread.</summary>
internal sealed class CallRejectedException : Exception
{
    public CallRejectedException()
    {
    }

    public CallRejectedException(string message)
        : base(message)
    {
    }

    public CallRejectedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
