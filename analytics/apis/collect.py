from rest_framework.views import APIView


class CollectApi(APIView):
    pass
