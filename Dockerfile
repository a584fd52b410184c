FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY flexhooks flexhooks
COPY outbound outbound
COPY accounts accounts
COPY endpoints endpoints
COPY deliveries deliveries
COPY api api
COPY dashboard dashboard
COPY portal portal
COPY templates templates
COPY manage.py ./
# collectstatic needs no secrets: DEBUG=1 for this build step only (the settings refuse
# a missing SECRET_KEY or FLEXHOOKS_ENCRYPTION_KEYS with DEBUG off).
RUN pip install --no-cache-dir . && DEBUG=1 python manage.py collectstatic --noinput
EXPOSE 8000
