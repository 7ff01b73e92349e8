using System.Collections.Concurrent;
using System.Globalization;
using System.Numerics;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Kettle;

/// <summary>
/// How a call to a static method is carried to a worker process: which method (assembly, build id, metadata
/// token, fixed by the parent) and how its arguments and result are read (always as the method's declared types).
/// Made once per method and cached; every rule a call breaks is reported here, at submission.
/// </summary>
/// <remarks>Threading: immutable once made; any thread.</remarks>
internal sealed class ProcessCall
{
    private static readonly ConcurrentDictionary<MethodInfo, object> Cache = new();

    /// <summary>Plans made with a trailing <see cref="CancellationToken"/> parameter allowed (cluster executors).</summary>
    private static readonly ConcurrentDictionary<MethodInfo, object> TokenCache = new();

    private static readonly JsonElement JsonNull = JsonDocument.Parse("null").RootElement.Clone();

    private ProcessCall(MethodInfo method, Type[] parameterTypes, string[] parameterNames, int tokenIndex = -1)
    {
        Method = method;
        TokenIndex = tokenIndex;
        ParameterTypes = parameterTypes;
        ParameterNames = parameterNames;
        AssemblyName = method.Module.Assembly.GetName().Name!;
        ModuleVersionId = method.Module.ModuleVersionId;
        MetadataToken = method.MetadataToken;
        DisplayName = NameOf(method);
    }

    /// <summary>The serializer settings of both sides: declared types only, fields included (tuples), BigInteger as a number.</summary>
    public static JsonSerializerOptions JsonOptions { get; } = CreateOptions();

    public MethodInfo Method { get; }

    public Type[] ParameterTypes { get; }

    public string[] ParameterNames { get; }

    /// <summary>
    /// The index of the trailing <see cref="CancellationToken"/> parameter, or -1. Only plans made with
    /// <c>allowCancellationToken</c> have one: the token is not sent (its argument travels as JSON null) and the
    /// receiving side passes its own token there.
    /// </summary>
    public int TokenIndex { get; }

    public Type ReturnType => Method.ReturnType;

    public string AssemblyName { get; }

    public Guid ModuleVersionId { get; }

    public int MetadataToken { get; }

    /// <summary><c>Namespace.Type.Method</c>, for messages.</summary>
    public string DisplayName { get; }

    public static string NameOf(MethodBase method) => $"{method.DeclaringType?.FullName ?? "?"}.{method.Name}";

    /// <summary>
    /// The plan for calling <paramref name="function"/> in a worker, whose result is read as <paramref name="resultType"/>
    /// (null: ignored, for initializers); throws <see cref="ArgumentException"/> saying why it cannot be sent.
    /// </summary>
    public static ProcessCall For(Delegate function, Type? resultType, string paramName) => For(function, resultType, paramName, allowCancellationToken: false);

    /// <summary>
    /// As <see cref="For(Delegate, Type?, string)"/>; with <paramref name="allowCancellationToken"/>, a last parameter of
    /// type <see cref="CancellationToken"/> is accepted and left to the receiver (see <see cref="TokenIndex"/>).
    /// </summary>
    public static ProcessCall For(Delegate function, Type? resultType, string paramName, bool allowCancellationToken)
    {
        var method = function.Method;
        string name = Describe(method);
        if (function.Target is not null)
        {
            if (IsCompilerGenerated(method))
            {
                throw new ArgumentException(
                    $"{name} is a lambda or anonymous method: its code and the variables it captures cannot be sent to a worker process. " +
                    "Declare a public static method in a public class and pass it (the method group), with its inputs as arguments.",
                    paramName);
            }
            if (!method.IsStatic)
            {
                throw new ArgumentException(
                    $"{name} is an instance method: the object it is bound to cannot be sent to a worker process. " +
                    "Use a public static method and pass the data it needs as arguments.",
                    paramName);
            }
            throw new ArgumentException(
                $"{name} is a static method bound to a first argument (an extension method called on an object): that object cannot be sent this way. " +
                "Pass the method group itself and the object as an argument.",
                paramName);
        }
        if (function is MulticastDelegate md && md.GetInvocationList().Length > 1)
        {
            throw new ArgumentException($"{name} is a multicast delegate: a worker process runs one method per call.", paramName);
        }
        var entry = allowCancellationToken ? TokenCache.GetOrAdd(method, static m => Create(m, true)) : Cache.GetOrAdd(method, static m => Create(m, false));
        if (entry is string reason)
        {
            throw new ArgumentException(reason, paramName);
        }
        var call = (ProcessCall)entry;
        if (resultType is not null && !IsResultCompatible(call.ReturnType, resultType))
        {
            throw new ArgumentException($"{name} returns {call.ReturnType}, which cannot be read as {resultType}.", paramName);
        }
        return call;
    }

    /// <summary>
    /// Serializes the arguments as the declared parameter types, and checks that each survives the trip (read back
    /// and written again it gives the same JSON); throws <see cref="ArgumentException"/> otherwise.
    /// </summary>
    public JsonElement[] SerializeArguments(IReadOnlyList<object?> arguments, string paramName)
    {
        if (arguments.Count != ParameterTypes.Length)
        {
            throw new ArgumentException(
                string.Create(CultureInfo.InvariantCulture, $"{DisplayName} takes {ParameterTypes.Length} argument(s); {arguments.Count} were given."),
                paramName);
        }
        var result = new JsonElement[arguments.Count];
        for (int i = 0; i < result.Length; i++)
        {
            var type = ParameterTypes[i];
            if (i == TokenIndex)
            {
                result[i] = JsonNull;
                continue;
            }
            string what = $"Argument '{ParameterNames[i]}' ({Show(type)}) of {DisplayName}";
            try
            {
                result[i] = JsonSerializer.SerializeToElement(arguments[i], type, JsonOptions);
                var back = result[i].Deserialize(type, JsonOptions);
                var again = JsonSerializer.SerializeToElement(back, type, JsonOptions);
                if (!JsonElement.DeepEquals(result[i], again))
                {
                    throw new ArgumentException(
                        $"{what} does not survive System.Text.Json: read back as {Show(type)}, it is not the value that was sent " +
                        "(a type without settable properties or a matching constructor?). Send plain data: numbers, strings, arrays, lists, dictionaries, records.",
                        paramName);
                }
            }
            catch (Exception ex) when (ex is JsonException or NotSupportedException or InvalidOperationException)
            {
                throw new ArgumentException(
                    $"{what} cannot be sent to a worker process: System.Text.Json cannot carry it ({ex.Message}). " +
                    "Send plain data: numbers, strings, arrays, lists, dictionaries, records.",
                    paramName,
                    ex);
            }
        }
        return result;
    }

    /// <summary>Reads a result sent by a worker, as the declared return type, boxed as <paramref name="resultType"/> expects.</summary>
    public object? ReadResult(JsonElement? element, Type resultType)
    {
        if (ReturnType == typeof(void))
        {
            return resultType.IsValueType ? Activator.CreateInstance(resultType) : null;
        }
        if (element is not { } e)
        {
            throw new InvalidDataException($"The worker sent no result for {DisplayName}.");
        }
        return e.Deserialize(ReturnType, JsonOptions);
    }

    private static bool IsResultCompatible(Type returnType, Type resultType) =>
        returnType == typeof(void)
            ? resultType == typeof(VoidResult) || !resultType.IsValueType
            : resultType.IsAssignableFrom(returnType);

    private static object Create(MethodInfo method, bool allowCancellationToken)
    {
        string name = Describe(method);
        var type = method.DeclaringType;
        if (type is null)
        {
            return $"{name} is a global method: a worker process calls public static methods of public classes.";
        }
        if (IsCompilerGenerated(method))
        {
            return method.Name.Contains(">g__", StringComparison.Ordinal)
                ? $"{name} is a local function (compiled as a hidden, non-public method): a worker process cannot call it by name. " +
                  "Declare it as a public static method of a public class."
                : $"{name} is a lambda or anonymous method: a worker process cannot call it by name. " +
                  "Declare a public static method in a public class and pass the method group.";
        }
        if (!method.IsStatic)
        {
            return $"{name} is an instance method: the object it is bound to cannot be sent to a worker process. " +
                "Use a public static method and pass the data it needs as arguments.";
        }
        if (!method.IsPublic)
        {
            return $"{name} is not public: a worker process calls only public static methods of public classes. Make it public.";
        }
        if (!type.IsVisible)
        {
            return $"{name} is declared in {type.FullName}, which is not public (or is nested in a class that is not): " +
                "a worker process calls only public static methods of public classes. Make the class public.";
        }
        if (method.IsGenericMethod || type.ContainsGenericParameters || type.IsGenericType)
        {
            return $"{name} is generic (or declared in a generic class): a worker process does not take type names from the wire, " +
                "so it cannot close generic types. Write a non-generic public static wrapper.";
        }
        var assembly = type.Assembly;
        if (assembly.IsDynamic || string.IsNullOrEmpty(assembly.Location) || AssemblyLoadContext.GetLoadContext(assembly) != AssemblyLoadContext.Default)
        {
            return $"{name} is in the assembly {assembly.GetName().Name}, which a worker process cannot load by name " +
                "(it is dynamic, in-memory, or loaded in a separate AssemblyLoadContext). Put the method in an assembly the application references.";
        }
        var parameters = method.GetParameters();
        var types = new Type[parameters.Length];
        var names = new string[parameters.Length];
        int tokenIndex = -1;
        for (int i = 0; i < parameters.Length; i++)
        {
            var p = parameters[i];
            names[i] = p.Name ?? $"#{i}";
            if (allowCancellationToken && i == parameters.Length - 1 && p.ParameterType == typeof(CancellationToken))
            {
                tokenIndex = i;
                types[i] = p.ParameterType;
                continue;
            }
            if (p.ParameterType.IsByRef || p.IsOut)
            {
                return $"Parameter '{names[i]}' of {name} is ref/out/in: a worker process can only send values back through the result. Return a record instead.";
            }
            if (Unsupported(p.ParameterType) is { } why)
            {
                return $"Parameter '{names[i]}' of {name} has the type {Show(p.ParameterType)}, which cannot be sent to a worker process: {why}";
            }
            types[i] = p.ParameterType;
        }
        if (method.ReturnType != typeof(void))
        {
            if (method.ReturnType.IsByRef)
            {
                return $"{name} returns by reference: a worker process can only send back a value.";
            }
            if (typeof(Task).IsAssignableFrom(method.ReturnType) || method.ReturnType == typeof(ValueTask)
                || (method.ReturnType.IsGenericType && method.ReturnType.GetGenericTypeDefinition() == typeof(ValueTask<>)))
            {
                return $"{name} returns {Show(method.ReturnType)}: a worker process runs synchronous functions. Return the result itself, not a task.";
            }
            if (Unsupported(method.ReturnType) is { } why)
            {
                return $"{name} returns {Show(method.ReturnType)}, which cannot be sent back from a worker process: {why}";
            }
        }
        return new ProcessCall(method, types, names, tokenIndex);
    }

    /// <summary>Why values of <paramref name="type"/> cannot travel as JSON of their declared type, or null.</summary>
    private static string? Unsupported(Type type)
    {
        if (type == typeof(object) || type == typeof(ValueType) || type == typeof(Enum))
        {
            return "it is declared as object, and System.Text.Json reads an object back as a JsonElement, not as the original type. Declare the concrete type.";
        }
        if (type.IsPointer || type.IsByRefLike || typeof(Delegate).IsAssignableFrom(type) || type.ContainsGenericParameters)
        {
            return "pointers, spans, delegates and open generic types are not data. Send plain data: numbers, strings, arrays, lists, dictionaries, records.";
        }
        if (type == typeof(IntPtr) || type == typeof(UIntPtr) || typeof(MemberInfo).IsAssignableFrom(type) || typeof(Stream).IsAssignableFrom(type)
            || type == typeof(CancellationToken) || typeof(IDisposable).IsAssignableFrom(type) && !type.IsValueType && !IsCollection(type))
        {
            return "it stands for something that lives in this process (a handle, a stream, a reflection object, a token) and cannot be copied to another one.";
        }
        try
        {
            JsonOptions.GetTypeInfo(type);
        }
        catch (Exception ex) when (ex is NotSupportedException or InvalidOperationException or ArgumentException)
        {
            return $"System.Text.Json does not support it ({ex.Message}).";
        }
        return null;
    }

    private static bool IsCollection(Type type) => typeof(System.Collections.IEnumerable).IsAssignableFrom(type);

    private static bool IsCompilerGenerated(MethodInfo method) =>
        method.Name.Contains('<', StringComparison.Ordinal)
        || method.IsDefined(typeof(CompilerGeneratedAttribute), false)
        || (method.DeclaringType is { } t && (t.IsDefined(typeof(CompilerGeneratedAttribute), false) || t.Name.Contains('<', StringComparison.Ordinal)));

    private static string Describe(MethodInfo method)
    {
        string shown = method.Name;
        int lt = shown.IndexOf('<', StringComparison.Ordinal);
        int gt = shown.IndexOf('>', StringComparison.Ordinal);
        if (lt >= 0 && gt > lt && shown.Contains(">g__", StringComparison.Ordinal))
        {
            // A local function: <Outer>g__Name|0_0
            int start = shown.IndexOf(">g__", StringComparison.Ordinal) + 4;
            int bar = shown.IndexOf('|', start);
            shown = bar > start ? shown[start..bar] : shown;
            return $"The function '{shown}'";
        }
        return lt >= 0 ? $"The function passed ({method.DeclaringType?.Name}.{method.Name})" : $"The method {NameOf(method)}";
    }

    private static string Show(Type type) => type.FullName ?? type.Name;

    private static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.General)
        {
            IncludeFields = true,
            NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
            TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
            MaxDepth = 256,
        };
        options.Converters.Add(new BigIntegerConverter());
        options.MakeReadOnly();
        return options;
    }

    /// <summary>BigInteger as a JSON number (System.Text.Json would otherwise write its properties and read back 0).</summary>
    private sealed class BigIntegerConverter : JsonConverter<BigInteger>
    {
        public override BigInteger Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            if (reader.TokenType is not (JsonTokenType.Number or JsonTokenType.String))
            {
                throw new JsonException("A BigInteger is written as a number.");
            }
            string text = reader.TokenType == JsonTokenType.String ? reader.GetString()! : System.Text.Encoding.UTF8.GetString(reader.HasValueSequence ? System.Buffers.BuffersExtensions.ToArray(reader.ValueSequence) : reader.ValueSpan);
            return BigInteger.Parse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        }

        public override void Write(Utf8JsonWriter writer, BigInteger value, JsonSerializerOptions options) =>
            writer.WriteRawValue(value.ToString(CultureInfo.InvariantCulture), skipInputValidation: true);
    }
}
