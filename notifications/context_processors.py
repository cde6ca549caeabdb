def live(request):
    return {}
